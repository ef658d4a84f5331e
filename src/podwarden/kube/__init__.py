"""The only part of podwarden that talks to a Kubernetes API (or reads a cluster file).

Use module-qualified calls::

    from podwarden.kube import client, filesource, reflector, store

    view = store.ClusterView()
    task = reflector.run(view, api=client.from_kubeconfig(path), node_name="node-1")
    lookup = await view.wait_for_ip("10.0.0.7", timeout=2.0)
"""
