import Testing

@Test func placeholderGPT() {}
