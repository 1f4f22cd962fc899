from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "stats"
    verbose_name = "Mocha statistics"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from stats import instruments, metrics

        # Count SQL statements per process for /metrics (queries_executed).
        connection_created.connect(
            metrics.install_query_counter, dispatch_uid="mocha-query-counter"
        )
        metrics.install_on_open_connections()
        instruments.process_started()
