"""The worker API (data plane to control plane) and camera leases."""
