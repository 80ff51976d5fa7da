"""`make bench`: what mip4 costs, each figure next to a baseline measured in the same run (issue 9).

Not tests: pytest collects only test_*.py, and nothing here asserts a timing. `python -m tests.bench`
runs every bench_*.py module, prints one table per figure and writes bench/results.json.
"""
