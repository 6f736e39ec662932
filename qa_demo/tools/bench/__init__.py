"""``qa-demo bench`` (the subcommand lives in ``cli``).

config (BenchConfig, engine names) -> weights (checkpoint, IR, ONNX, agreement) -> engines ->
measure (rounds, GEMM rates, bounds) with machine (ISA flags, rates) -> report (tables, chart);
startup measures compile, app start-up and memory.
"""
