"""Benchmarks: throughput and cost figures written as JSON, compared as ratios to a baseline."""
