from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("monthly/<int:year>/<int:month>/", views.monthly, name="monthly"),
    path(
        "monthly/<int:year>/<int:month>/report.<str:fmt>",
        views.monthly_download,
        name="monthly_download",
    ),
    path(
        "monthly/<int:year>/<int:month>/chart-<slug:name>.svg",
        views.monthly_chart,
        name="monthly_chart",
    ),
    path(
        "monthly/<int:year>/<int:month>/chart-<slug:name>.png",
        views.monthly_chart,
        {"fmt": "png"},
        name="monthly_chart_png",
    ),
    path("monthly/<int:year>/<int:month>/boletin.pdf", views.monthly_pdf, name="monthly_pdf"),
    path(
        "monthly/<int:year>/<int:month>/boletin-v<int:version>.pdf",
        views.monthly_pdf_version,
        name="monthly_pdf_version",
    ),
    path("monthly/<int:year>/<int:month>/publish/", views.monthly_publish, name="publish"),
    path("annual/<int:year>/", views.annual, name="annual"),
    path("annual/<int:year>/report.<str:fmt>", views.annual_download, name="annual_download"),
    path("annual/<int:year>/chart-<slug:name>.svg", views.annual_chart, name="annual_chart"),
    path(
        "annual/<int:year>/chart-<slug:name>.png",
        views.annual_chart,
        {"fmt": "png"},
        name="annual_chart_png",
    ),
]
