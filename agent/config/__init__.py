"""Configuration: the pydantic-settings model (`settings`), the plain Config the running agent
reads (`plain`), durations and process-target parsing."""
