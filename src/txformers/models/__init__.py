"""One folder per model family: configuration_<name>.py, modeling_<name>.py."""
