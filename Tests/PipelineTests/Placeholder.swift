import Testing

@Test func placeholderPipeline() {}
