import Testing

@Test func placeholderShards() {}
