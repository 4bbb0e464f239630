"""The dom0 toolstack: xl.cfg parsing, a libxl-like control layer and the ``xl`` CLI."""
