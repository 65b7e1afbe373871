"""Protocol buffers of trainwire's own services and their generated code."""

__all__: list[str] = []
