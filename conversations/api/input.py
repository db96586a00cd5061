"""Validating a request's query string or body with a serializer (a 400 naming the field otherwise)."""


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
