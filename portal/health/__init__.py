"""Health of cameras and workers: the summary and Prometheus text."""
