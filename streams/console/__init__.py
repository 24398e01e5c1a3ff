"""`vigil console`: the investigators' web app over the store (inbox, ad, cluster, search,
feedback, export), with named users, roles, sessions, CSRF protection and an audit log."""
