# The demo: sync a folder of documents to a backup folder on this machine.
# No cloud account needed. `make demo` creates ../demo/src and applies this.
#
#   syncer plan  -config examples/local.hcl
#   syncer apply -config examples/local.hcl -var root=/some/other/folder

variable "root" {
  description = "Folder holding src/ and dst/ (relative to this file)"
  default     = "../demo"
}

state {
  path = "${var.root}/syncer.db"
}

limits {
  workers     = "auto" # the tuner picks 1..max_workers from the work's shape
  max_workers = 2
  memory      = "256MiB"
  max_delete  = 1000
}

backend "local" "src" {
  path = "${var.root}/src"
}

backend "local" "dst" {
  path = "${var.root}/dst"
}

sync "docs" {
  from    = backend.local.src
  to      = backend.local.dst
  exclude = ["tmp/**", "**/*.swp"]
  delete  = "managed" # remove what syncer copied once the source drops it
  compare = "modtime"
}
