"""Wire contracts of Postino: msgspec structs, enums and codecs, nothing else."""
