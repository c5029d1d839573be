from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """Every page the application renders is private and never stored in a cache: case data
    must not survive in a shared computer's browser cache or a proxy. (Static files are
    served before this, by whitenoise, and stay cacheable.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
        return response
