"""The benchmark's measurements, one module per kind; fanout_bench.py drives them."""
