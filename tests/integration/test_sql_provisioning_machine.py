import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

from adapters.sql.engine import create_database_engine
from adapters.sql.stores import SqlSessions
from adapters.sql.tables import metadata
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from tests.provisioning_machine import ProvisioningMachine


class SqliteProvisioningMachine(ProvisioningMachine):
    """The domain's provisioning state machine, against the SQL unit of work on a SQLite file."""

    def make_ports(self):
        self.directory = tempfile.TemporaryDirectory()
        self.engine = create_database_engine(f"sqlite:///{Path(self.directory.name) / 'db'}")
        metadata.create_all(self.engine)
        return SqlAlchemyUnitOfWork(self.engine), SqlSessions(self.engine)

    def teardown(self):
        self.engine.dispose()
        self.directory.cleanup()


SqliteProvisioningMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_provisioning_state_machine_on_sqlite = SqliteProvisioningMachine.TestCase
