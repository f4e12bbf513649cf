// Shards module.
