"""The built-in architectures: `arch` holds the table and `@register_arch`, each family module
registers its nets there, and `registry` looks names up (loading only the family a name needs)."""
