"""Model monitoring: drift and accuracy of a deployment's predictions against a reference from its lineage."""
