"""Pantau's data plane: a worker that supervises one ffmpeg per camera (live HLS, recording, snapshots).

It knows ffmpeg, files and the worker API (``docs/worker-api.md``), and nothing of Flask or the database.
"""

__version__ = "0.1.0"
