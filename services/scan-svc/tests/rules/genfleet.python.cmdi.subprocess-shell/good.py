import subprocess


def archive(name):
    subprocess.run(["tar", "czf", f"/backups/{name}.tgz", "/data"], check=True)
