"""`vigil forget`: erase one ad or one phone number from every store that keeps it."""
