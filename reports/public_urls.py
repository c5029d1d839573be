from django.urls import path

from reports import public

app_name = "boletin"
urlpatterns = [
    path("", public.index, name="index"),
    path("atom.xml", public.BulletinFeed(), name="feed"),
    path("<int:year>/<int:month>/", public.month, name="month"),
    path("<int:year>/<int:month>/boletin.pdf", public.month_pdf, name="pdf"),
    path("<int:year>/<int:month>/grafico-<slug:name>.svg", public.month_chart, name="chart"),
    path(
        "<int:year>/<int:month>/grafico-<slug:name>.png",
        public.month_chart,
        {"fmt": "png"},
        name="chart_png",
    ),
]
