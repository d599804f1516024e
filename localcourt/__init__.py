"""A whole court on one machine, on loopback: PostgreSQL, SeaweedFS, pods and nginx (`make court`)."""
