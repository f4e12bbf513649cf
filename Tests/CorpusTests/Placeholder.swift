import Testing

@Test func placeholderCorpus() {}
