"""Reading a store's storefront as a customer does, leaving the shop's data as it was (`reader`)."""

from maint.storefront.reader import StorefrontReader, StoreSide, new_session_id

__all__ = ["StoreSide", "StorefrontReader", "new_session_id"]
