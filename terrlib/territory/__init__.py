"""The territory solver: a balanced, compact, low-disruption assignment of accounts to
territories with a certified lower bound. It takes plain frames (accounts, rep homes) and knows
nothing of datasets, plans, stages or reports. See ``docs/optimizer.md``."""
