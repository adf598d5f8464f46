"""Workload simulator: instrumented services defined as data, with labelled fault injection."""
