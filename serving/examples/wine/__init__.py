"""The seed's wine-quality demo, re-created: synthetic data, a scikit-learn model, the CML-style predict."""
