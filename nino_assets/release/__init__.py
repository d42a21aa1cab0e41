"""Release stage: QA report, sign-off, pre-release access and publication by the release calendar."""
