"""Browser tests: the notebooks run in JupyterLab, driven by headless Chromium."""
