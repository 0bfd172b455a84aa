"""Values both planes must agree on: the portal (control plane) and the transcoder (data plane) import
this package; it imports neither of them (the import contract in pyproject.toml checks all three).

- :mod:`contract.media`: segment defaults, audio modes, URL schemes a camera may use, the media key format;
- :mod:`contract.redaction`: what counts as a credential in a URL or a line of text, and how it is masked.
"""
