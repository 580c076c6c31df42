"""Code shared by the project's scripts: configuration, perturbations, perplexity, corpora, results, plots."""
