"""Cost reporter: each successful EMR Serverless job run -> JobCostUSD and CostPerMillionRecords metrics."""
