# Back up a local folder to an S3 bucket (AWS, or any S3-compatible store).
#
#   export BACKUP_AWS_ACCESS_KEY_ID=... BACKUP_AWS_SECRET_ACCESS_KEY=...
#   syncer plan  -config examples/local-to-s3.hcl
#   syncer apply -config examples/local-to-s3.hcl -var source=$HOME/Pictures
#
# Against the local test server (scripts/s3-server.sh start /tmp/s3 && . /tmp/s3/env):
#
#   export BACKUP_AWS_ACCESS_KEY_ID=$SYNCER_S3_KEY BACKUP_AWS_SECRET_ACCESS_KEY=$SYNCER_S3_SECRET
#   syncer apply -config examples/local-to-s3.hcl \
#     -var endpoint=$SYNCER_S3_ENDPOINT -var bucket=test -var region=us-east-1 -var storage_class=STANDARD
#
# Files of part_size and more go up as multipart uploads streamed from the
# file, part by part; the state records each finished part, so a killed
# apply resumes a large upload where it stopped.

variable "source" {
  description = "The folder to back up (relative to this file)"
  default     = "../demo/src"
}
variable "bucket" { default = "my-backups" }
variable "region" { default = "eu-west-1" }
variable "endpoint" {
  description = "S3-compatible endpoint, e.g. http://127.0.0.1:7070; empty for AWS"
  default     = ""
}
variable "storage_class" { default = "STANDARD_IA" }
variable "state_path" {
  description = "The SQLite state (relative to this file); keep it: it is what makes the next run incremental"
  default     = "local-to-s3.db"
}

state {
  path = var.state_path
}

limits {
  workers     = "auto"
  max_workers = 2
  memory      = "256MiB"  # the Go memory limit of the process
  bandwidth   = "50MiB/s" # leave some upstream for everyone else
  max_delete  = 1000
}

backend "local" "photos" {
  path = var.source
}

backend "s3" "backup" {
  bucket            = var.bucket
  prefix            = "laptop/" # keys go under laptop/ in the bucket
  region            = var.region
  endpoint          = var.endpoint
  force_path_style  = var.endpoint != ""
  access_key_id     = env("BACKUP_AWS_ACCESS_KEY_ID")
  secret_access_key = env("BACKUP_AWS_SECRET_ACCESS_KEY")
  # Or: profile = "backup" (from ~/.aws/config), or no keys at all for the
  # SDK's default chain. A private endpoint with its own CA:
  # ca_bundle = "/etc/ssl/private-ca.pem"
  storage_class = var.storage_class
  part_size     = "16MiB"
}

sync "photos" {
  from    = backend.local.photos
  to      = backend.s3.backup
  exclude = [".cache/**", "**/*.tmp", "**/.DS_Store"]
  delete  = "managed" # remove from the bucket what syncer uploaded once the folder drops it
  compare = "modtime" # size and modification time; "checksum" also reads and compares MD5s
}
