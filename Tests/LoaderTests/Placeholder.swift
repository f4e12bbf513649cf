import Testing

@Test func placeholderLoader() {}
