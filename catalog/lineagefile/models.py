"""What a lineage file says, once parsed: models and their training data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog.lineagefile.refs import HiveTableRef, S3Ref

__all__ = ["LineageFile", "ModelLineage"]


class ModelLineage(BaseModel):
    """One model's entry: the Hive tables and S3 locations it was trained on, and free-form metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="the CML model name, the entry's key")
    hive_tables: list[HiveTableRef] = Field(default_factory=list, description="hive_table_qualified_names")
    s3_sources: list[S3Ref] = Field(default_factory=list, description="S3 locations read directly (our extension)")
    metadata: dict[str, str] = Field(default_factory=dict, description="metadata, every value a string")
    line: int = Field(default=1, ge=1, description="1-based line of the model name in the file")


class LineageFile(BaseModel):
    """A parsed lineage file; ``models`` keeps the file's order and is keyed by model name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    models: dict[str, ModelLineage] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys_are_names(self) -> LineageFile:
        for key, model in self.models.items():
            if key != model.name:
                raise ValueError(f"models key {key!r} differs from the model's name {model.name!r}")
        return self
