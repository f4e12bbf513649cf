// Corpus module.
