import Testing

@Test func placeholderBPE() {}
