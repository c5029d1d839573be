from django.urls import path

from legal import views

app_name = "legal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("agenda/", views.agenda, name="agenda"),
    path("arrests/new/", views.arrest_new, name="arrest_new"),
    path("detentions/<uuid:public_id>/", views.detention_timeline, name="detention"),
    path("calendar/", views.calendar_link, name="calendar_link"),
    path("calendar/<str:token>.ics", views.calendar, name="calendar"),
]
