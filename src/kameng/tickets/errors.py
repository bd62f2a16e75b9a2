"""Support ticket errors, worded for the buyer (web) and the operator (CLI)."""

from __future__ import annotations

from kameng.kit.errors import DomainError, InvalidInput, NotFound
from kameng.kit.i18n import N_


class TicketMessageInvalid(InvalidInput):
    code = "ticket_message_invalid"
    message = N_("Please describe the problem (1 to %(max)s characters)")


class TicketContactInvalid(InvalidInput):
    code = "ticket_contact_invalid"
    message = N_("The contact may have at most %(max)s characters, without control characters")


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    message = N_("No ticket %(ticket_no)s. Please check the ticket number (T and 13 digits)")


class TicketClosed(DomainError):
    status = 409
    code = "ticket_closed"
    message = N_("Ticket %(ticket_no)s is closed")


class TooManyTickets(DomainError):
    status = 429
    code = "too_many_tickets"
    message = N_("Too many tickets from here; please try again in %(minutes)s minutes")


class TicketClosedToBuyer(TicketClosed):
    """A follow-up on a closed ticket: what the buyer can do instead."""

    code = "ticket_closed_to_messages"
    message = N_(
        "Ticket %(ticket_no)s is closed and takes no more messages. If you still need help, "
        "open a new ticket from the order page"
    )


class TooManyTicketMessages(DomainError):
    status = 429
    code = "too_many_messages"
    message = N_("Too many messages; please try again in %(minutes)s minutes")
