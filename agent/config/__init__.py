"""The configuration as plain data (`plain.Config`, what the running agent reads, with no
pydantic), and the parsing of durations and process targets that the settings validate with."""
