"""Reading the host: paths under the host root, /proc and /sys parsers, cgroups."""
