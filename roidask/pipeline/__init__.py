"""Pipelines from YAML configs: validated specs, an op registry, one-compute runner."""
