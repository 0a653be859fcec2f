"""The admin, for support staff. It reads everything; its writes go through boards.services,
so an edit made here is checked, recorded in the history and published like any other."""

from django.contrib import admin, messages

from boards import selectors, services
from boards.models import Block, Board, Card, CardMove, Column, Comment, Event, Label, Swimlane
from kanban.exceptions import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceAdmin(admin.ModelAdmin):
    """Edits call a service with the fields the form changed; a refused edit says why."""

    service_fields: tuple[str, ...] = ()

    def has_add_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in self.service_fields}
        if not changes:
            return
        try:
            self.call_service(obj, changes, actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"Not saved: {exc.detail}", level=messages.ERROR)

    def call_service(self, obj, changes, *, actor):
        raise NotImplementedError


class ColumnInline(admin.TabularInline):
    model = Column
    fields = ["position", "name", "stage", "wip_limit", "wip_policy"]
    # the same names: django-stubs types `fields` wider than readonly_fields
    readonly_fields = fields  # type: ignore[assignment]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Board)
class BoardAdmin(ServiceAdmin):
    list_display = ["name", "organization", "team", "last_seq", "created_at"]
    list_filter = ["organization", "team"]
    search_fields = ["name", "description", "team__name"]
    fields = ["organization", "team", "name", "description", "last_seq"]
    readonly_fields = ["organization", "team", "last_seq"]
    service_fields = ("name", "description")
    inlines = [ColumnInline]

    def call_service(self, obj, changes, *, actor):
        services.update_board(obj, **changes, actor=actor)

    def delete_model(self, request, obj):
        services.delete_board(obj, actor=request.user)


@admin.register(Column)
class ColumnAdmin(ServiceAdmin):
    list_display = ["name", "board", "stage", "position", "wip_limit", "wip_policy"]
    list_filter = ["stage", "wip_policy", "board__organization"]
    search_fields = ["name", "board__name", "policy"]
    fields = ["board", "name", "stage", "position", "wip_limit", "wip_policy", "policy"]
    readonly_fields = ["board"]
    service_fields = ("name", "stage", "position", "wip_limit", "wip_policy", "policy")

    def call_service(self, obj, changes, *, actor):
        services.update_column(Column.objects.get(pk=obj.pk), **changes, actor=actor)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Swimlane)
class SwimlaneAdmin(ServiceAdmin):
    list_display = ["name", "board", "position", "wip_limit"]
    list_filter = ["board__organization"]
    search_fields = ["name", "board__name"]
    fields = ["board", "name", "position", "wip_limit"]
    readonly_fields = ["board"]
    service_fields = ("name", "position", "wip_limit")

    def call_service(self, obj, changes, *, actor):
        services.update_swimlane(Swimlane.objects.get(pk=obj.pk), **changes, actor=actor)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Card)
class CardAdmin(ServiceAdmin):
    list_display = [
        "title",
        "board",
        "column",
        "swimlane",
        "class_of_service",
        "value",
        "blocked",
        "archived",
        "created_at",
    ]
    list_filter = [
        "class_of_service",
        "blocked",
        "archived",
        "column__stage",
        "board__organization",
        "board",
    ]
    search_fields = ["title", "description", "customer"]
    list_select_related = ["board", "column", "swimlane"]
    date_hierarchy = "created_at"
    fields = [
        "board",
        "column",
        "swimlane",
        "position",
        "title",
        "description",
        "value",
        "customer",
        "class_of_service",
        "due_date",
        "blocked",
        "block_reason",
        "archived",
        "created_at",
        "committed_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = [
        "board",
        "column",
        "swimlane",
        "position",
        "blocked",
        "block_reason",
        "archived",
        "created_at",
        "committed_at",
        "started_at",
        "finished_at",
    ]
    service_fields = ("title", "description", "value", "customer", "class_of_service", "due_date")

    @admin.display(description="position")
    def position(self, obj: Card) -> int | None:
        """Its index in its cell (the API's position; the card keeps a rank)."""
        return selectors.card_position(obj.pk)

    actions = ["archive_cards", "unblock_cards"]

    def call_service(self, obj, changes, *, actor):
        services.update_card(Card.objects.get(pk=obj.pk), **changes, actor=actor)

    def delete_model(self, request, obj):
        services.delete_card(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for card in queryset:
            services.delete_card(card, actor=request.user)

    def _each(self, request, queryset, service, verb):
        done = 0
        for card in queryset.select_related("board"):
            try:
                service(card, actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{card}: {exc.detail}", level=messages.WARNING)
        self.message_user(request, f"{verb} {done} card(s).")

    @admin.action(description="Archive selected cards")
    def archive_cards(self, request, queryset):
        self._each(request, queryset.filter(archived=False), services.archive_card, "Archived")

    @admin.action(description="Unblock selected cards")
    def unblock_cards(self, request, queryset):
        self._each(request, queryset.filter(blocked=True), services.unblock_card, "Unblocked")


@admin.register(Label)
class LabelAdmin(ReadOnlyAdmin):
    list_display = ["name", "board", "color"]
    list_filter = ["board__organization", "board"]
    search_fields = ["name"]


@admin.register(CardMove)
class CardMoveAdmin(ReadOnlyAdmin):
    list_display = [
        "card",
        "board",
        "from_column",
        "to_column",
        "to_stage",
        "at",
        "actor",
        "override_reason",
    ]
    list_filter = ["to_stage", "board__organization", "board"]
    search_fields = ["card__title", "override_reason", "actor__username"]
    list_select_related = ["card", "board", "from_column", "to_column", "actor"]
    date_hierarchy = "at"


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = ["card", "board", "reason", "started_at", "ended_at", "blocked_by"]
    list_filter = ["board__organization", "board"]
    search_fields = ["reason", "card__title"]
    list_select_related = ["card", "board", "blocked_by"]
    date_hierarchy = "started_at"


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ["card", "author", "created_at"]
    search_fields = ["body", "card__title", "author__username"]
    list_select_related = ["card", "author"]
    date_hierarchy = "created_at"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["board", "seq", "type", "at", "actor"]
    list_filter = ["type", "board__organization", "board"]
    search_fields = ["type"]
    list_select_related = ["board", "actor"]
    date_hierarchy = "at"
