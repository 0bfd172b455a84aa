"""The public side: map, list, live player, embed, multiview and the open data API."""
