"""`ganlint bench`: step throughput (bench.py) and how far it is from the machine's floors (floors.py)."""
