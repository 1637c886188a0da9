"""spark-submit entrypoint of the bronze job (EMR Serverless: `entryPoint`; job_assets ships as --py-files)."""

from job_assets.entrypoints.main import run_job

if __name__ == "__main__":
    run_job("bronze")
