"""The one base of every recipe section's settings (a stage's config, the recipe itself, the text track's recipe)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictConfig(BaseModel):
    """Unknown keys are errors (a misspelt setting never passes silently), values are frozen (a config is shared
    by every worker and is part of the build's fingerprint)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
